"""Running edge as a system service: systemd notify/watchdog, the HTTP endpoint and the installer."""

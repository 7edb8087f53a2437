"""Stage workers, bounded queues, event routing and per-stage metrics."""

"""edge: offline multimodal inference runtime (camera + microphone -> OCR, speech, fusion -> events)."""

__version__ = "0.1.0"

"""Classic vision: HOG/LBP features, keypoint alignment to a reference, part detection and cropping.

Used by the fusion stage (part trigger, crop, classic feature vector) and available to OCR (aligned ROIs).
"""

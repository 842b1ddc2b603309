"""Training GR-1 on recorded bags: video-only pre-training and action fine-tuning (gr1-train)."""

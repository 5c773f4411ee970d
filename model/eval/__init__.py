"""Evaluation of video-to-audio generators: onset, sync, distribution and class metrics."""

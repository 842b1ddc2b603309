"""Recorded data: rosbag2 reading, synchronisation, GR-1 training windows and datasets.

Pure Python (rosbags + numpy + torch); never imports rclpy, so bags can be read on any machine.
docs/DATA.md describes the pipeline.
"""

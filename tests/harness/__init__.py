"""Test harness: a private PulseAudio null sink with a monitor recorder, and signal analysis."""

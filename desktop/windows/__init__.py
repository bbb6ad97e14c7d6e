"""The app's windows: stats, settings, drop target."""

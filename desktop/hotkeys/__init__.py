"""Global hotkeys: one backend per platform behind one small interface."""

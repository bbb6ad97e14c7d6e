"""VoxTray desktop layer (Qt)."""

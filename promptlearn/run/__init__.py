"""A run: its features (calibration, demonstrations, soft labels, auxiliary MLM, label search,
unlabelled pool) and its folder."""

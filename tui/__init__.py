"""The Caxton terminal UI (Textual); installed as `caxton_tui`, never imported by `caxton`."""

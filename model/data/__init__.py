"""Training and evaluation data: a corpus of (video, 48 kHz audio, caption, class, onsets).

`build` renders one from real recordings in Debian packages; `import_folder` cuts a user's own
video folder into the same format. `corpus` reads either.
"""

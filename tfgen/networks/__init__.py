"""Network builders: architectures only (functional `keras.Model`s), no losses, no train_step."""

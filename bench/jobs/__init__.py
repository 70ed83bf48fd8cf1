"""Jobs that string the layers below together: the main job (run) and the reliability soak."""

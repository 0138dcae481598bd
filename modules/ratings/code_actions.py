"""What the ratings module offers on a scanned official, merchant or stall code (registered with
``modules.codes.actions.register_action``)."""

"""Follow-up cases of bad ratings made in the ratings module (an official's or merchant's code):
``ratings.bad_rating`` opens one for the subject's unit, ``ratings.callback_recorded`` closes it.
The ratings module is never imported: they meet through these events (docs/ratings.md)."""

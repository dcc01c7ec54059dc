"""The code factor: send and verify one-time codes. No Flask and no Redis here."""

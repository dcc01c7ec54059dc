"""The vocabulary every layer shares: outcomes and statuses, codes, phones, text encoding, message types. Pure: no I/O."""

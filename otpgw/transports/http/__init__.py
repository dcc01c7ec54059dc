"""HTTP carrier transports: one pooled client, and a profile per carrier API."""

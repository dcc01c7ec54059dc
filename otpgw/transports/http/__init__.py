"""HTTP carrier transports: one pooled client, and a profile per carrier API.

Profiles (``[transports.<name>] type = ...``): ``twilio`` (``twilio``), ``vonage``
(``vonage``), ``kannel`` (``kannel``) and ``http`` (``generic``: any API described in
TOML). Every one also reads the client options of ``client``: ``connect_timeout``,
``read_timeout`` and ``max_connections``.

Shared pieces: ``client`` (the only httpx user; maps socket failures to
``TemporaryTransportError`` or ``OutcomeUnknownError`` by whether the request went
out), ``replies`` (what an HTTP status means), ``callbacks`` (callback fields and the
per-message URL token), ``signatures`` (Twilio and Vonage, without their SDKs),
``replay`` (freshness and nonces), and for ``http`` the ``templates``, ``paths`` and
the ``request_shape``/``reply_shape``/``callback_shape`` tables.

Callbacks arrive at ``/callbacks/<name>/<kind>``; every profile takes ``status``
(delivery reports) and all but ``http`` take ``inbound`` (SMS to us). Each module's
docstring names the fields it reads.
"""

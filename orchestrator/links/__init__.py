"""Emulated edge links (issue 11): settings, and the mechanisms that impose them on a live network.

``settings`` is plain data (the topology imports it); ``toxiproxy`` and ``netem`` are the two
backends behind :class:`~orchestrator.links.backend.LinkBackend`; ``control`` picks the backend
of a network and validates before it applies anything; ``probe`` measures a link from the host.
Nothing is imported here, so the topology can import ``settings`` without a cycle.
"""

"""The service's HTTP contract, declared once: the routes check requests with these
declarations and ``/openapi.json`` is written from them (:mod:`.document`).

- :mod:`.fields`: :class:`~.fields.Field`, one request field (name, type, bounds, enum,
  required, default, description);
- :mod:`.operations`: :class:`~.operations.Operation` (what a route takes and answers), the
  families (keys, error shape) and :func:`~.operations.documented`;
- :mod:`.reference`, :mod:`.openai`, :mod:`.azure`, :mod:`.ops`: each family's fields and
  operations.

To add a route:

1. declare its fields (``Field``) and its ``Operation`` in the family's module (or a new
   module here for a new family, with a :class:`~.operations.Family` in :mod:`.operations`);
2. read the request through those fields in the route (``inputs.read(body, FIELD)``, or the
   family's own checks, which take a ``Field``), so the contract and the checks cannot differ;
3. put ``@documented(OPERATION)`` under the route decorator (for a flask-sock WebSocket route:
   under ``sock.route``; ``websocket=True``).

``tests/test_openapi.py`` fails for any url rule whose view has no declaration, naming it.
"""

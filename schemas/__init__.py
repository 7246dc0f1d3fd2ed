"""The wire contract: pydantic v2 models of every input and output event (SPEC.md sections 2
and 5), the dead-letter record, and the JSON Schema files exported from them (``json/``).

``inputs``, ``outputs`` and ``dlq`` hold the models; ``common`` the shared types and the
person-readable validation error; ``export`` the ``lead-sla schemas export DIR`` command. The
translation to the engine's dataclasses lives in ``leadsla.codec``.
"""

"""``styleforge convert``: precision variants of a bundle (fp32 clean-up, fp16, int8) and in-graph uint8 NHWC I/O.

Pipeline per graph (:mod:`.api`): clean-up (:mod:`.cleanup`) → precision (:mod:`.fp16` or :mod:`.int8` with the
family's recipe, :mod:`.recipes`) → optional I/O wrapper (:mod:`.io_uint8`); the new bundle keeps the parent's
golden cases (PyTorch fp32 references), gets the precision's tolerance profile (:mod:`.profiles`) and records its
lineage (:mod:`.lineage`). docs/deploy.md.
"""

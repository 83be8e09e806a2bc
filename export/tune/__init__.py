"""``styleforge tune``: measure every way this host can run a bundle — runner (ort-cpu, openvino, GPU runners
where present) × precision (fp32, fp16, int8 recipes via ``styleforge convert``; OpenVINO's bf16 hint) × runner
options — keep those whose PSNR against the fp32 references meets a floor, and write the fastest as a bundle with
a typed ``tuning`` record (runtime/manifest.py :class:`TuningRecord`) that ``auto`` honours on this host.

:mod:`.candidates` lists what to measure, :mod:`.measure` times and scores them, :mod:`.api` is the Python entry
(``tune_bundle``), :mod:`.commands` the CLI. Reading the record at run time is the runtime's (runtime/tuning.py).
"""

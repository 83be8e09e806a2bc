"""The tiny training runs tests/test_distributed.py trains in one process and under torchrun (2 gloo ranks)."""

COMMON = ["--seed", "3", "--no-progress"]


def _gan(family, *extra):
    return lambda out: ["train", "gan", "--method", family, "--out", f"{out}/{family}", "--steps", "3", "--batch", "8",
                        "--resolution", "8", "--width-mult", "0.125", "--nz", "8", *extra, *COMMON]


RUNS = {
    # the stylizer runs 2 steps, then resumes to 4 (resume_stylizer): the losses of all 4 must match one process
    "stylizer": lambda out: ["train", "stylizer", "--out", f"{out}/stylizer", "--style", "sample:mosaic", "--style",
                             "sample:waves", "--steps", "2", "--size", "32", "--batch", "4", "--width-mult", "0.125",
                             "--checkpoint-every", "1", *COMMON],
    "resume_stylizer": lambda out: ["train", "stylizer", "--out", f"{out}/stylizer", "--style", "sample:mosaic",
                                    "--style", "sample:waves", "--steps", "4", "--resume", *COMMON],
    "wct": lambda out: ["train", "wct-decoder", "--out", f"{out}/wct", "--level", "2", "--steps", "3", "--size", "16",
                        "--batch-size", "4", "--width-mult", "0.125", *COMMON],
    "dcgan": _gan("dcgan"),                       # batch norm in G and D: global batch norm
    "cgan": _gan("cgan"),
    "wgan": _gan("wgan", "--n-critic", "2"),
    "wgan-gp": _gan("wgan-gp", "--n-critic", "2"),  # gradient penalty: interpolation weights drawn globally
    "pgan": _gan("pgan", "--n-critic", "1"),      # minibatch stddev over groups of 4: strided shards keep them
    "cyclegan": lambda out: ["train", "gan", "--method", "cyclegan", "--out", f"{out}/cyclegan", "--steps", "2",
                             "--batch", "2", "--resolution", "24", "--width-mult", "0.0625", "--n-blocks", "1", *COMMON],
    "pix2pix": lambda out: ["train", "gan", "--method", "pix2pix", "--out", f"{out}/pix2pix", "--steps", "2",
                            "--batch", "2", "--resolution", "32", "--width-mult", "0.0625", *COMMON],
}

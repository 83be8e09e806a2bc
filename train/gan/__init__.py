"""GANs in latent space: DCGAN (Radford 2015), WGAN (Arjovsky 2017), WGAN-GP (Gulrajani 2017), conditional
GAN (Mirza 2014), Progressive GAN (Karras 2018); an offline quality measure; the latent tools run on the
exported bundles (runtime). docs/gan.md."""
from ..core.family import Method, TrainFamily

_G = "generator"
FAMILY = TrainFamily(
    name="gan",
    summary="latent-space GANs (DCGAN, WGAN, WGAN-GP, cGAN, Progressive GAN)",
    methods=(
        Method("dcgan", "trainers:DCGANTrainer", "options:DCGANOptions", _G, "DCGAN (Radford 2015)", command="gan"),
        Method("wgan", "trainers:WGANTrainer", "options:WGANOptions", _G, "WGAN, weight clipping (Arjovsky 2017)",
               command="gan"),
        Method("wgan-gp", "trainers:WGANGPTrainer", "options:WGANGPOptions", _G,
               "WGAN with gradient penalty (Gulrajani 2017)", command="gan"),
        Method("cgan", "trainers:CGANTrainer", "options:CGANOptions", _G, "conditional GAN (Mirza 2014)", command="gan"),
        Method("pgan", "pgan:PGANTrainer", "options:PGANOptions", _G, "Progressive GAN (Karras 2018)", command="gan"),
    ),
    model_modules=("models", "pgan"),
    doc="docs/gan.md",
)


def get_trainer_class(name: str):
    """The trainer class of a ``train gan --family`` name (latent GANs and the image-to-image families)."""
    from ..core.family import trainer_class

    return trainer_class(name, command="gan")


def family_names() -> list[str]:
    from ..core.family import all_methods

    return sorted(n for n, (_, m) in all_methods().items() if m.command == "gan")

"""GANs in latent space: DCGAN (Radford 2015), WGAN (Arjovsky 2017), WGAN-GP (Gulrajani 2017), conditional
GAN (Mirza 2014), Progressive GAN (Karras 2018); an offline quality measure; the latent tools run on the
exported bundles (runtime). docs/gan.md."""
from ..core.family import Method, TrainFamily

FAMILY = TrainFamily(
    name="gan",
    summary="latent-space GANs (DCGAN, WGAN, WGAN-GP, cGAN, Progressive GAN)",
    methods=(
        Method("dcgan", "trainers:DCGANTrainer", "options:DCGANOptions", "DCGAN (Radford 2015)", command="gan"),
        Method("wgan", "trainers:WGANTrainer", "options:WGANOptions", "WGAN, weight clipping (Arjovsky 2017)",
               command="gan"),
        Method("wgan-gp", "trainers:WGANGPTrainer", "options:WGANGPOptions",
               "WGAN with gradient penalty (Gulrajani 2017)", command="gan"),
        Method("cgan", "trainers:CGANTrainer", "options:CGANOptions", "conditional GAN (Mirza 2014)", command="gan"),
        Method("pgan", "pgan:PGANTrainer", "options:PGANOptions", "Progressive GAN (Karras 2018)", command="gan"),
    ),
    model_modules=("models", "pgan"),
)


def get_trainer_class(name: str):
    """The trainer class of a ``train gan --method`` name (latent GANs and the image-to-image methods)."""
    from ..core.family import trainer_class

    return trainer_class(name, command="gan")

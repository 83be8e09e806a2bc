"""Image-to-image translation: pix2pix (Isola et al. 2017; U-Net + 70×70 PatchGAN, L1 + adversarial) and
CycleGAN (Zhu et al. 2017; two ResNet generators, cycle and identity losses, image pool). Trained with
``styleforge train gan --method pix2pix|cyclegan``. docs/image2image.md."""
from ..core.family import Method, TrainFamily

FAMILY = TrainFamily(
    name="image2image",
    summary="image-to-image translation (pix2pix, CycleGAN)",
    methods=(
        Method("pix2pix", "pix2pix:Pix2PixTrainer", "options:Pix2PixOptions",
               "pix2pix, paired translation (Isola 2017)", command="gan"),
        Method("cyclegan", "cyclegan:CycleGANTrainer", "options:CycleGANOptions",
               "CycleGAN, unpaired translation (Zhu 2017)", command="gan"),
    ),
    model_modules=("common", "pix2pix", "cyclegan"),
)

"""Universal style transfer: WCT (Li et al. 2017) with VGG19 encoders and trained mirrored decoders,
PhotoWCT + smoothing (Li et al. 2018), AdaIN as the diagonal case; whitening–colouring that exports
(coupled Newton–Schulz). A WCT model is a folder of per-level decoder runs. docs/wct.md."""
from ..core.family import Method, TrainFamily

FAMILY = TrainFamily(
    name="wct",
    summary="universal style transfer (WCT, PhotoWCT, AdaIN)",
    methods=(Method(
        name="wct-decoder", trainer="trainer:WCTDecoderTrainer", options="options:WCTDecoderOptions",
        command="wct-decoder",
        summary="train the WCT decoder of one level (relu{L}_1 → image); runs land in OUT/level{L}",
        description="Train the decoder of one WCT level to reconstruct images from the frozen VGG19 encoder's "
                    "relu{L}_1 features (pixel + feature loss, Li et al. 2017). Each level is its own run in "
                    "OUT/level{L}; `styleforge export OUT` turns the folder into one WCT bundle."),),
    model_modules=("models",),
)

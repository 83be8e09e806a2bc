"""Feed-forward stylizer: Johnson et al. 2016's transformer net trained against a fixed VGG16 loss
network; N styles in one net by conditional instance norm (Dumoulin et al. 2017). docs/stylizer.md."""
from ..core.family import Method, TrainFamily

FAMILY = TrainFamily(
    name="stylizer",
    summary="feed-forward stylizer (Johnson et al. 2016; several styles by conditional instance norm)",
    methods=(Method(
        name="stylizer", trainer="trainer:StylizerTrainer", options="options:StylizerOptions",
        command="stylizer",
        summary="train a feed-forward stylizer (Johnson et al. 2016; several styles by conditional instance norm)",
        description="Train a feed-forward stylizer: one --style per style index (conditional instance norm when "
                    "several). Content: --content-dir, or the bundled sample photos. Loss network: VGG16 (content "
                    "relu2_2; style relu1_2, relu2_2, relu3_3, relu4_3), random(seed=0) weights unless --vgg-weights. "
                    "Checkpoints and previews go under --out."),),
    model_modules=("transformer_net",),
)

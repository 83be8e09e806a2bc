"""Modules that put the toolkit's image convention around a network for export: graphs take and return
float32 NCHW RGB in [0, 255], whatever range the network was trained in."""
from __future__ import annotations


def signed_image_graph(net):
    """[0, 255] image in → [0, 255] image out around a network trained on [-1, 1] images (pix2pix, CycleGAN,
    the template family): the scaling happens inside the graph, so bundles need no Python around them."""
    import torch

    class SignedImageGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, image):
            return (self.net(image / 127.5 - 1.0) + 1.0) * 127.5

    return SignedImageGraph().eval()

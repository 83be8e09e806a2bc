"""`styleforge eval gan`: offline quality of a generator bundle.

* Fréchet distance in the digits classifier's 64-d feature space (``fd_digits``) between n
  generated samples and the real set the model was trained on (same preprocessing for both);
  on non-digit data the number still ranks models of that data, but its features were learnt on
  digits only.
* cgan: accuracy of the classifier on samples generated for each requested label (digits only).
* ``--inception-weights``: FID in Inception v3 features: ``pt_inception`` (pytorch-fid's weights: the
  standard FID), ``imagenet`` (torchvision's) or a weights file (train/gan/inception.py).
Generation runs the bundle itself (ONNX Runtime), so the measure is of what ships.
"""
from __future__ import annotations

import numpy as np

from ...runtime.errors import StyleForgeError
from .frechet import frechet_distance_features


def real_images(source: str | None, resolution: int, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Real set as N×C×R×R float in [0, 255] and its labels."""
    from .data import GANData

    d = GANData(source, resolution, channels)
    return (d.x + 1) * 127.5, d.y


def evaluate_bundle(bundle, *, n: int = 1000, seed: int = 0, data: str | None = None, classifier=None,
                    inception_weights=None, labels=None) -> dict:
    from ...runtime.interfaces import require_command
    from ...runtime.model import load
    from .digit_classifier import features_and_logits, load_classifier, train_classifier

    model = load(bundle, backend="ort-cpu")
    require_command(model, "generate", bundle)  # eval gan needs a generator bundle (latents in, images out)
    cfg = model.config
    if labels is not None:
        if not model.n_classes:
            raise StyleForgeError(f"{bundle}: --labels is for conditional (cgan) bundles; this {model.manifest.model.method} "
                                  "bundle has no classes")
        bad = [k for k in labels if not 0 <= int(k) < model.n_classes]
        if bad:
            raise StyleForgeError(f"--labels: {bad[0]} is not a class of this bundle (0..{model.n_classes - 1})")
    source = data or cfg.data or "builtin:digits"
    if classifier:
        clf, clf_acc = load_classifier(classifier), None
    else:
        clf, clf_acc = train_classifier()
    real, real_y = real_images(source, int(cfg.resolution))
    z = model.sample_latents(n, seed)
    fake_labels = (np.arange(n) % model.n_classes) if model.n_classes else None
    fake = model.generate_raw(z, fake_labels)
    f_real, _ = features_and_logits(clf, real)
    f_fake, logits = features_and_logits(clf, fake)
    report = {"bundle": str(bundle), "method": model.manifest.model.method, "samples": n, "real": source,
              "real_samples": int(len(real)), "classifier_heldout_accuracy": clf_acc,
              "fd_digits": frechet_distance_features(f_fake, f_real)}
    if model.n_classes:
        pred = logits.argmax(1)
        classes = cfg.classes or []
        per = {}
        for k in (labels if labels is not None else range(model.n_classes)):
            sel = fake_labels == k
            if not sel.any():
                continue
            target = int(classes[k]) if source == "builtin:digits" and k < len(classes) else k
            per[str(k)] = float((pred[sel] == target).mean())
        report["label_accuracy"] = per
        report["label_accuracy_mean"] = float(np.mean(list(per.values()))) if per else None
        real_pred = features_and_logits(clf, real)[1].argmax(1)
        report["classifier_accuracy_on_real"] = float((real_pred == real_y).mean())
    if inception_weights:
        from .inception import inception_features, load_inception

        net = load_inception(inception_weights)
        report["fid_inception"] = frechet_distance_features(inception_features(fake, net), inception_features(real, net))
        report["inception_weights"] = str(inception_weights)
    return report


def format_eval(r: dict) -> str:
    lines = [f"{r['bundle']} ({r['method']}): {r['samples']} samples vs {r['real_samples']} real ({r['real']})"]
    if r.get("classifier_heldout_accuracy") is not None:
        lines.append(f"digits classifier (trained now): held-out accuracy {r['classifier_heldout_accuracy']:.3f}")
    lines.append(f"Fréchet distance (digits-classifier features): {r['fd_digits']:.3f}")
    if "label_accuracy" in r:
        lines.append("label accuracy: " + ", ".join(f"{k}: {v:.2f}" for k, v in r["label_accuracy"].items())
                     + f"  (mean {r['label_accuracy_mean']:.3f}; classifier on real: {r['classifier_accuracy_on_real']:.3f})")
    if "fid_inception" in r:
        lines.append(f"FID (Inception v3, weights {r.get('inception_weights', 'given')}): {r['fid_inception']:.3f}")
    return "\n".join(lines)

#!/bin/bash
# Steps/second of the latent GAN families' default runs, each pinned to 2 CPU cores, in parallel on
# a 16-core machine, plus one GPU scale-up run. Used for docs/gan.md:
#   OUT=/tmp/out bash benchmarks/gan_device.sh      (writes OUT/NAME/{timing.json, previews/, ckpt/, NAME.sfbundle})
# Works from a bare checkout: links the source folders into a `styleforge` namespace on PYTHONPATH.
cd "$(dirname "$0")/.."
R=$PWD
export PYTHONPATH="$(python3 $R/benchmarks/sfpath.py)${GAN_EXTRA_PYTHONPATH:+:$GAN_EXTRA_PYTHONPATH}"
python -c "import sys, torch, numpy, PIL, onnx, onnxruntime, sklearn, safetensors, tqdm; print(sys.version, torch.__version__, torch.cuda.is_available())" || exit 3
nproc; lscpu | grep "Model name"
job() { # cores name family steps extra-json device
  OMP_NUM_THREADS=2 timeout ${TMO:-330} taskset -c $1 python $R/benchmarks/gan_train_timing.py $3 $2 $4 "{\"data\": \"builtin:digits\"$5}" ${6:-cpu} > $OUT/$2.log 2>&1 & }
job 0,1 dcgan dcgan 1500 ""
job 2,3 cgan cgan 1500 ""
job 4,5 wgan wgan 1000 ""
job 6,7 wgangp wgan-gp 600 ""
job 8,9 pgan pgan 2400 ""
job 10,11 pgan1200 pgan 1200 ""
job 12,13 wgan_lr5e-5 wgan 1000 ", \"lr\": 5e-05"
command -v nvidia-smi >/dev/null && TMO=200 job 14,15 gpu_dcgan32 dcgan 3000 ", \"resolution\": 32, \"width_mult\": 1.0, \"batch\": 128" cuda
wait
tail -n 3 $OUT/*.log

"""Gives subprocesses of the tests (bench workers, CLI runs, serve) the TensorRT/CUDA stand-in of
tests/fake_tensorrt.py. Only active when this folder is on PYTHONPATH and VGG_DEPLOY_TRT_STANDIN is set, which
tests/tensorrt_target.py does when real TensorRT is not importable. Not part of vgg_deploy."""

import os
import sys

if os.environ.get("VGG_DEPLOY_TRT_STANDIN"):
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for fake_tensorrt
    import fake_tensorrt

    fake_tensorrt.install_from_environment()

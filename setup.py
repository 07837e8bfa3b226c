from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="vgg-deploy",
    version="0.1.0",
    description="VGG from PyTorch to ONNX, FP16/INT8 and TensorRT, with measured results",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["vgg_deploy", "vgg_deploy.*"]),
    package_data={"vgg_deploy.bench": ["report.schema.json"]},
    # torch is not pinned: CPU machines install torch==2.13.0 (CPU build) first, GPU machines bring their own.
    install_requires=[
        "torch>=2.6",
        "onnx>=1.16",
        "onnxscript>=0.2",
        "onnxruntime>=1.18",
        "onnxconverter-common>=1.14",
        "numpy>=1.26",
        "click>=8.1",
        "Pillow>=10",
        "safetensors>=0.4",
        "tqdm>=4.60",
    ],
    extras_require={
        "gpu": ["onnxruntime-gpu>=1.18"],
        "trt": ["tensorrt>=10.0", "cuda-python>=12.0"],
        "openvino": ["openvino>=2024.0"],
        "plot": ["matplotlib>=3.7"],
        # PyTriton needs numpy < 2: install this extra in its own environment (scripts/setup_serve_env.sh).
        "serve": ["nvidia-pytriton>=0.7,<0.8", "tritonclient[grpc,http]>=2.50", "numpy>=1.26,<2"],
        # triton-repo's config validation only (plain tritonclient: its [grpc] extra pins protobuf < 7).
        "triton": ["tritonclient>=2.50"],
        "demo": ["scikit-learn>=1.3"],
        # NVIDIA Model Optimizer (`--quantizer modelopt`) WITHOUT its [onnx] extra, which pins onnx~=1.21 and
        # onnxruntime-gpu~=1.24 (whose CPU fp16 QuantizeLinear rounds wrongly) and cupy: the ONNX pieces it
        # imports are listed here instead and run on this project's onnx/onnxruntime.
        "modelopt": ["nvidia-modelopt==0.47.*", "onnx-graphsurgeon>=0.6.1", "onnxslim>=0.1.76", "polygraphy>=0.53.4",
                     "lief", "cppimport", "ml_dtypes"],
        "dev": ["pytest>=8", "jsonschema>=4.18", "scikit-learn>=1.3", "mypy>=1.8", "openvino>=2024.0", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["vgg-deploy=vgg_deploy.cli:main"]},
)

// Must NOT compile: CTest's trt_mock_rejects_misspelled_call expects the compiler to report the misspelled
// enqueueV4, showing that tests/mock/tensorrt/NvInfer.h catches a wrong TensorRT call (enqueueV3 is right).
#include <NvInfer.h>

bool run(nvinfer1::IExecutionContext& context, cudaStream_t stream) {
    return context.enqueueV4(stream);
}

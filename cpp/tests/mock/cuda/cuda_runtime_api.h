// MOCK of the CUDA runtime header, used ONLY when CMake finds no CUDA toolkit, for the compile-only check of
// src/trt_engine.cpp. It declares just the calls vgg_infer makes, with the signatures of the CUDA Runtime API
// reference. It defines nothing (tests/mock/fake_runtime.cpp has a host-memory fake of these calls for the
// vgg_infer_on_fake_runtime test). Where the real toolkit is found, the real header is used instead.
#ifndef VGG_DEPLOY_MOCK_CUDA_RUNTIME_API_H
#define VGG_DEPLOY_MOCK_CUDA_RUNTIME_API_H

#include <cstddef>

enum cudaError { cudaSuccess = 0 };
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct CUstream_st* cudaStream_t;

struct cudaDeviceProp {
    char name[256];
    int major;
    int minor;
};

extern "C" {
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int device);
cudaError_t cudaMalloc(void** devPtr, size_t size);
cudaError_t cudaFree(void* devPtr);
cudaError_t cudaMallocHost(void** ptr, size_t size);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaStreamCreate(cudaStream_t* pStream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
}

#endif  // VGG_DEPLOY_MOCK_CUDA_RUNTIME_API_H

# Lets GGML_CPU_ARM_ARCH from the environment choose llama.cpp's aarch64 kernels, and leaves out
# llama.cpp's `common` library.
#
# llama-cpp-sys-2 0.1.161 defines GGML_CPU_ARM_ARCH=armv8-a for every aarch64 Linux build that is
# not `-C target-cpu=native`, after it forwards the GGML_* environment, so the environment alone
# cannot change it. That baseline lacks the dotprod and fp16 kernels that the Cortex-A76
# (Raspberry Pi 5) and Cortex-A78AE (Jetson Orin) run. Its build script does forward CMAKE_*
# variables, and .cargo/config.toml names this file as CMAKE_PROJECT_INCLUDE_BEFORE, so it runs
# before each project() of llama.cpp's configure and puts the environment's value back.
#
# Why the environment and not the Rust target features: cargo reruns llama-cpp-sys-2's build
# script when a GGML_* variable changes, and cmake then recompiles only the ggml-cpu library, so
# the boards' two kernel sets share one build of the rest of llama.cpp and of every Rust crate.
#
# It does nothing unless the pinned value is there: on x86, or with target-cpu=native (llama.cpp
# then probes the CPU itself), the build is left as it is.
if(GGML_CPU_ARM_ARCH AND DEFINED ENV{GGML_CPU_ARM_ARCH}
        AND NOT GGML_CPU_ARM_ARCH STREQUAL "$ENV{GGML_CPU_ARM_ARCH}")
    message(STATUS "joulebench: GGML_CPU_ARM_ARCH $ENV{GGML_CPU_ARM_ARCH} (was ${GGML_CPU_ARM_ARCH})")
    set(GGML_CPU_ARM_ARCH "$ENV{GGML_CPU_ARM_ARCH}" CACHE STRING "ggml: CPU architecture for ARM" FORCE)
endif()

# llama.cpp's `common` library (argument parsing, chat templates, an HTTP client) is built only
# because llama-cpp-2 asks for llama-cpp-sys-2's default features; joulebench calls none of it,
# and it is about 40 % of llama.cpp's compile time. JOULEBENCH_LLAMA_COMMON=ON builds it anyway.
if(NOT "$ENV{JOULEBENCH_LLAMA_COMMON}" STREQUAL "ON")
    set(LLAMA_BUILD_COMMON OFF CACHE BOOL "llama: build common utils library" FORCE)
endif()

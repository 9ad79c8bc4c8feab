// registry.h: kernels the emulator can launch, each with the types of its parameters, so that a
// launch whose arguments do not match the kernel's C signature is refused instead of misread.
// Pointer arguments become checked pointers into the buffer that holds their address.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_emulation.h"

namespace emu {

// Argument kinds, as the Java side tags them.
enum : int { kPointer = 1, kInt32 = 2, kInt64 = 3, kFloat32 = 4 };

template <class T>
struct is_ptr : std::false_type {};
template <class T>
struct is_ptr<Ptr<T>> : std::true_type {};

// The device buffer holding `address` (null when none does).
Region* region_of(uintptr_t address);

template <class T>
constexpr int kind_of() {
    if constexpr (is_ptr<T>::value)
        return kPointer;
    else if constexpr (std::is_same_v<T, int>)
        return kInt32;
    else if constexpr (std::is_same_v<T, long long>)
        return kInt64;
    else if constexpr (std::is_same_v<T, float>)
        return kFloat32;
    else
        static_assert(sizeof(T) == 0, "kernel parameter of a type the emulator does not pass");
}

template <class T>
T unpack(int64_t raw) {
    if constexpr (is_ptr<T>::value)
        return T(region_of((uintptr_t)raw), (uintptr_t)raw);
    else if constexpr (std::is_same_v<T, float>) {
        uint32_t bits = (uint32_t)raw;
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return f;
    } else
        return static_cast<T>(raw);
}

struct Kernel {
    std::vector<int> tags;
    std::function<void(const int64_t*)> call;
};

std::map<std::string, Kernel>& registry();

template <class... A, size_t... I>
void invoke(void (*f)(A...), const int64_t* args, std::index_sequence<I...>) {
    f(unpack<A>(args[I])...);
}

template <class... A>
bool add(const char* name, void (*f)(A...)) {
    registry()[name] =
        Kernel{{kind_of<A>()...}, [f](const int64_t* args) { invoke(f, args, std::index_sequence_for<A...>{}); }};
    return true;
}

inline std::string describe(const std::vector<int>& tags) {
    static const char* names[] = {"?", "pointer", "int", "long", "float"};
    std::string s = "(";
    for (size_t i = 0; i < tags.size(); i++) {
        s += (i ? ", " : "") + std::string(tags[i] >= 1 && tags[i] <= 4 ? names[tags[i]] : "?");
    }
    return s + ")";
}

}  // namespace emu

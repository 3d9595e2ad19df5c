# Project-wide compiler flags: warnings everywhere, -Werror when asked (CI asks), sanitizers on request.
add_library(el3d_warnings INTERFACE)
target_compile_options(el3d_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wcast-align -Wunused
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Woverloaded-virtual>
  -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers
  $<$<BOOL:${EL3D_WERROR}>:-Werror>)

if(EL3D_SANITIZE)
  # GCC's -Wmaybe-uninitialized reports false positives inside libstdc++ (std::regex, std::function)
  # once the sanitizers' instrumentation changes inlining; it stays on in normal builds.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
endif()

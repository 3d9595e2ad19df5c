# Project-wide compiler flags: warnings everywhere, -Werror when asked (CI asks), sanitizers on request.
add_library(el3d_warnings INTERFACE)
target_compile_options(el3d_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wcast-align -Wunused
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Woverloaded-virtual>
  -Wformat=2 -Wimplicit-fallthrough -Wno-missing-field-initializers
  $<$<BOOL:${EL3D_WERROR}>:-Werror>)

# EL3D_SANITIZER is the normalized choice: "" (none), "address" or "thread".
string(TOLOWER "${EL3D_SANITIZE}" _el3d_san)
if(_el3d_san STREQUAL "thread")
  set(EL3D_SANITIZER thread)
elseif(_el3d_san STREQUAL "address" OR EL3D_SANITIZE)
  # ON, 1, address: ASan + UBSan (what EL3D_SANITIZE=ON always meant).
  if(NOT _el3d_san STREQUAL "address" AND NOT _el3d_san MATCHES "^(on|1|yes|true|y)$")
    message(FATAL_ERROR "EL3D_SANITIZE=${EL3D_SANITIZE}: expected OFF, address (or ON) or thread")
  endif()
  set(EL3D_SANITIZER address)
else()
  set(EL3D_SANITIZER "")
endif()

if(EL3D_SANITIZER STREQUAL "address")
  # GCC's -Wmaybe-uninitialized reports false positives inside libstdc++ (std::regex, std::function)
  # once the sanitizers' instrumentation changes inlining; it stays on in normal builds.
  set(EL3D_SANITIZER_FLAGS -fsanitize=address,undefined)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
elseif(EL3D_SANITIZER STREQUAL "thread")
  # ThreadSanitizer only (it excludes ASan). The same -Wmaybe-uninitialized false positives as above;
  # GCC's -Wtsan flags the std::atomic_thread_fence in asio's std_fenced_block (token signer's
  # io_context), which TSan does not model: asio's handoffs also go through its scheduler's mutex,
  # which TSan does see, so the fence is not what orders them.
  set(EL3D_SANITIZER_FLAGS -fsanitize=thread)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-maybe-uninitialized
                      $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  add_link_options(-fsanitize=thread)
endif()

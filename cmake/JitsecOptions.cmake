# Build options and hardening shared by every jitsec target (linked PRIVATE).
option(JITSEC_ENABLE_ASAN "Build with AddressSanitizer" OFF)
option(JITSEC_ENABLE_UBSAN "Build with UndefinedBehaviorSanitizer" OFF)
option(JITSEC_ENABLE_COVERAGE "Build with coverage instrumentation" OFF)
option(JITSEC_CLANG_TIDY "Run clang-tidy while compiling" OFF)

add_library(jitsec_options INTERFACE)
target_compile_options(jitsec_options INTERFACE
  -fstack-protector-strong -fPIE
  $<$<CONFIG:Debug>:-D_GLIBCXX_ASSERTIONS>
  $<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3>)
target_link_options(jitsec_options INTERFACE -pie -Wl,-z,relro,-z,now,-z,noexecstack)

set(_jitsec_san "")
if(JITSEC_ENABLE_ASAN)
  list(APPEND _jitsec_san address)
endif()
if(JITSEC_ENABLE_UBSAN)
  list(APPEND _jitsec_san undefined)
endif()
if(_jitsec_san)
  list(JOIN _jitsec_san "," _jitsec_san_list)
  target_compile_options(jitsec_options INTERFACE -fsanitize=${_jitsec_san_list} -fno-omit-frame-pointer
                         -fno-sanitize-recover=all)
  target_link_options(jitsec_options INTERFACE -fsanitize=${_jitsec_san_list})
  add_compile_definitions(JITSEC_SANITIZERS=1)
endif()
if(JITSEC_ENABLE_COVERAGE)
  target_compile_options(jitsec_options INTERFACE --coverage)
  target_link_options(jitsec_options INTERFACE --coverage)
endif()
if(JITSEC_CLANG_TIDY)
  set(CMAKE_CXX_CLANG_TIDY clang-tidy)
endif()

# cmake -P, from ctest: installs the build tree into a fresh prefix, then builds the consumer
# program against it twice (find_package(zcnet), and pkg-config's zcnet.pc) and runs both.
# Needs BUILD_DIR, SOURCE_DIR (tests/install/consumer), WORK_DIR, CXX, and FLAGS (the build's
# sanitizer flags, which a program linking instrumented libraries needs too).
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

function(expect_ok what binary)
  run("${what}" ${binary})
  if(NOT last_output MATCHES "^ok 100000 ")
    message(FATAL_ERROR "${what} printed: ${last_output}")
  endif()
  message(STATUS "${what}: ${last_output}")
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/zcnet/transfer/transfer.hpp include/zcnet/version.hpp
          lib/cmake/zcnet/zcnetConfig.cmake lib/cmake/zcnet/zcnetConfigVersion.cmake
          lib/pkgconfig/zcnet.pc lib/libzcnet_sys.a lib/libzcnet_http.a bin/zcnet)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
if(EXISTS ${prefix}/include/zcnet/sys/rw_posix.hpp OR EXISTS ${prefix}/include/sys)
  message(FATAL_ERROR "a private header was installed")
endif()

# find_package(zcnet) from the installed tree.
run("configure the consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/cmake-build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${FLAGS}")
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
expect_ok("consumer (find_package)" ${WORK_DIR}/cmake-build/consumer)

# pkg-config, with the .pc file found where it was installed (it locates the prefix itself).
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
run("pkg-config" pkg-config --cflags --libs zcnet)
separate_arguments(pc_flags UNIX_COMMAND "${last_output}")
separate_arguments(extra UNIX_COMMAND "${FLAGS}")
run("build the consumer with pkg-config" ${CXX} -std=c++20 ${extra} ${SOURCE_DIR}/main.cpp
    -o ${WORK_DIR}/consumer-pc ${pc_flags})
expect_ok("consumer (pkg-config)" ${WORK_DIR}/consumer-pc)

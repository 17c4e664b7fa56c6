# cmake -DBUILD_DIR=.. -DPREFIX=.. -DLIBDIR=lib -DCC=cc -DSOURCE=c_test.c -P check_installed.cmake
# Installs the build into a scratch prefix, then compiles SOURCE as a
# LevelDB C client would, with only pkg-config's flags for strata-leveldb,
# and runs it: once linked with the shared library, once with the static one.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                OUTPUT_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install into ${PREFIX} failed")
endif()

# The .pc file names the configured prefix; point it at the staged one.
set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
set(pc "pkg-config --define-variable=prefix=${PREFIX}")
set(ENV{TEST_TMPDIR} ${PREFIX}/tmp)

function(build_and_run name link)
  execute_process(COMMAND sh -c "${CC} ${SOURCE} $(${pc} --cflags strata-leveldb) ${link} -o ${PREFIX}/${name}"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: compiling with pkg-config's flags failed")
  endif()
  execute_process(COMMAND ${PREFIX}/${name} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed:\n${out}")
  endif()
  message(STATUS "${name}: ${out}")
endfunction()

# Shared: exactly what the documentation promises, run via LD_LIBRARY_PATH.
set(ENV{LD_LIBRARY_PATH} ${PREFIX}/${LIBDIR})
build_and_run(c_test_shared "$(${pc} --libs strata-leveldb)")
# Static: the archive alone must hold Strata too, the rest coming from
# Libs.private. With --as-needed the shared library -lstrata-leveldb names
# is dropped (the archive resolved everything), and the program runs
# without LD_LIBRARY_PATH.
unset(ENV{LD_LIBRARY_PATH})
build_and_run(c_test_static
  "${PREFIX}/${LIBDIR}/libstrata-leveldb.a -Wl,--as-needed $(${pc} --static --libs strata-leveldb)")

# Install layout, pkg-config and CMake package files, and the .deb (CPack).
#
#   <prefix>/<libdir>/libdanvan.so.<abi major>.<abi minor>.0   (SONAME libdanvan.so.<abi major>)
#   <prefix>/<libdir>/.debug/libdanvan.so.<...>.debug           (component debug; gdb finds it
#                                                                 through the .gnu_debuglink)
#   <prefix>/include/danvan/danvan.h
#   <prefix>/share/danvan/{schemas,config}/                     (found at run time relative to
#                                                                 the library, core/data_dirs.h)
#   <prefix>/<libdir>/pkgconfig/danvan.pc, <prefix>/<libdir>/cmake/danvan/
#
# The installed library is stripped (symbols and debug information go to the debug
# component), so it carries no build-machine path. Every file is relocatable: the .pc and the
# CMake package compute the prefix from their own location.
include(CMakePackageConfigHelpers)

# `cmake --install` and CPack install what is built; they do not first build every target of
# the project (tests, tools, benchmarks) through the "preinstall" step.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(_dv_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/danvan)
set(_dv_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS danvan LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
        NAMELINK_COMPONENT runtime)
# Strip the installed copy and point it at its debug file.
install(CODE "
  set(_lib \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:danvan>\")
  execute_process(COMMAND ${CMAKE_OBJCOPY} --strip-debug --strip-unneeded
                          --remove-section=.comment
                          --add-gnu-debuglink=$<TARGET_FILE:danvan>.debug \${_lib}
                  RESULT_VARIABLE _rc)
  if(_rc)
    message(FATAL_ERROR \"objcopy could not strip \${_lib}\")
  endif()
" COMPONENT runtime)
install(FILES $<TARGET_FILE:danvan>.debug DESTINATION ${CMAKE_INSTALL_LIBDIR}/.debug COMPONENT debug)

install(FILES ${PROJECT_SOURCE_DIR}/plugin/include/danvan/danvan.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/danvan COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/schemas ${PROJECT_SOURCE_DIR}/config
        DESTINATION ${CMAKE_INSTALL_DATADIR}/danvan COMPONENT runtime)

# The host kits (Python, C++, Java sources), tested against this very layout (tests/kits).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/kits/python ${PROJECT_SOURCE_DIR}/kits/cpp
                  ${PROJECT_SOURCE_DIR}/kits/java
        DESTINATION ${CMAKE_INSTALL_DATADIR}/danvan/kits COMPONENT runtime
        PATTERN "__pycache__" EXCLUDE)

# pkg-config: prefix relative to the .pc file.
file(RELATIVE_PATH DANVAN_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
configure_file(${PROJECT_SOURCE_DIR}/cmake/danvan.pc.in ${PROJECT_BINARY_DIR}/danvan.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/danvan.pc DESTINATION ${_dv_pcdir} COMPONENT runtime)

# CMake package: find_package(danvan) -> danvan::danvan (an imported shared library).
file(RELATIVE_PATH DANVAN_CMAKE_TO_PREFIX ${CMAKE_INSTALL_PREFIX}/${_dv_cmakedir} ${CMAKE_INSTALL_PREFIX})
configure_file(${PROJECT_SOURCE_DIR}/cmake/danvanConfig.cmake.in
               ${PROJECT_BINARY_DIR}/danvanConfig.cmake @ONLY)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/danvanConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/danvanConfig.cmake ${PROJECT_BINARY_DIR}/danvanConfigVersion.cmake
        DESTINATION ${_dv_cmakedir} COMPONENT runtime)

# .deb: `cpack -G DEB` in the build tree gives danvan_<version>_<arch>.deb and the debug
# symbols in danvan-dbg_<version>_<arch>.deb. Dependencies come from the binary (dpkg-shlibdeps).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME danvan)
set(CPACK_PACKAGE_VENDOR "danvan")
set(CPACK_PACKAGE_CONTACT "danvan maintainers <danvan@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "dân vận records plugin for one-stop e-government systems (C ABI)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime debug)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME danvan)
set(CPACK_DEBIAN_DEBUG_PACKAGE_NAME danvan-dbg)
set(CPACK_DEBIAN_DEBUG_PACKAGE_DEPENDS "danvan (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEBUG_PACKAGE_SECTION debug)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
include(CPack)

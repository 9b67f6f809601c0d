# CPack pre-build script: gzip every man page in the staging tree (gzip -9n, as dh_compress
# does), so the package ships /usr/share/man/man1/jitsec.1.gz and man5/jitsec-policy.5.gz.
file(GLOB_RECURSE _pages LIST_DIRECTORIES false
     "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/share/man/man[1-9]/*.[1-9]")
foreach(_page IN LISTS _pages)
  execute_process(COMMAND gzip -9nf "${_page}" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip ${_page} failed: ${_rc}")
  endif()
endforeach()

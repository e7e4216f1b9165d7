// The one translation unit that compiles Asio and Beast (BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION are defined for every llmd target), so each other file only
// includes their declarations and the build stays fast.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

// Beast's compiled parts, built once (BOOST_BEAST_SEPARATE_COMPILATION).
#include <boost/beast/src.hpp>

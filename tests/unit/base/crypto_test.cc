// base/crypto: the provider-dispatch SHA-256, HMAC, PBKDF2 and AES-256-GCM against published
// test vectors (FIPS 180-4, RFC 4231, RFC 7914, McGrew-Viega GCM) and against OpenSSL's EVP
// interface on random inputs, so that a mistake in the dispatch plumbing cannot pass.
#include "base/crypto.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>
#include <string>

#include "base/encoding.h"

namespace jitsec::crypto {
namespace {

std::string Hex(const Sha256Digest& d) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(*Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(*Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(*Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(*Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, MatchesEvpOnRandomInputs) {
  std::mt19937 rng(7);
  for (size_t n : {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 100001}) {
    const std::string data = RandomBytes(rng, n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASSERT_EQ(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr), 1);
    auto ours = Sha256(data);
    ASSERT_TRUE(ours);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ours->data()), ours->size()),
              std::string(reinterpret_cast<const char*>(md), len))
        << n;
  }
}

TEST(HmacSha256, Rfc4231Vectors) {
  auto mac = [](std::string_view key, std::string_view data) {
    auto h = HmacSha256::Create(key);
    EXPECT_TRUE(h);
    auto m = h->Mac(data);
    EXPECT_TRUE(m);
    return Hex(*m);
  };
  EXPECT_EQ(mac(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(mac("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(mac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, MatchesEvpAndIsReusable) {
  std::mt19937 rng(11);
  for (size_t key_len : {0, 1, 32, 63, 64, 65, 200}) {
    const std::string key = RandomBytes(rng, key_len);
    auto h = HmacSha256::Create(key);
    ASSERT_TRUE(h);
    for (size_t n : {0, 1, 64, 1000}) {  // several messages under one precomputed key
      const std::string data = RandomBytes(rng, n);
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      ASSERT_NE(HMAC(EVP_sha256(), key.data(), int(key.size()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len),
                nullptr);
      auto ours = h->Mac(data);
      ASSERT_TRUE(ours);
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(ours->data()), ours->size()),
                std::string(reinterpret_cast<const char*>(md), len))
          << key_len << " " << n;
    }
  }
}

TEST(Pbkdf2HmacSha256, Rfc7914Vectors) {
  std::string out(64, '\0');
  auto span = std::span<unsigned char>(reinterpret_cast<unsigned char*>(out.data()), out.size());
  ASSERT_TRUE(Pbkdf2HmacSha256("passwd", "salt", 1, span));
  EXPECT_EQ(HexEncode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
  ASSERT_TRUE(Pbkdf2HmacSha256("Password", "NaCl", 80000, span));
  EXPECT_EQ(HexEncode(out),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
            "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
  EXPECT_FALSE(Pbkdf2HmacSha256("p", "s", 0, span));
}

TEST(Pbkdf2HmacSha256, MatchesEvpForOddLengths) {
  for (size_t len : {1, 31, 32, 33, 70}) {
    std::string ours(len, '\0');
    std::string evp(len, '\0');
    ASSERT_TRUE(Pbkdf2HmacSha256("pencil", "W22ZaJ0SNY7soEsUEjb6gQ==", 4096,
                                 {reinterpret_cast<unsigned char*>(ours.data()), len}));
    ASSERT_EQ(PKCS5_PBKDF2_HMAC("pencil", 6, reinterpret_cast<const unsigned char*>("W22ZaJ0SNY7soEsUEjb6gQ=="),
                                24, 4096, EVP_sha256(), int(len),
                                reinterpret_cast<unsigned char*>(evp.data())),
              1);
    EXPECT_EQ(ours, evp) << len;
  }
}

TEST(Aes256Gcm, McGrewViegaVectors) {
  const std::string key(32, '\0');
  const std::string nonce(12, '\0');
  std::string out(16, '\0');
  ASSERT_TRUE(Aes256GcmSeal(key, nonce, "", "", out.data()));
  EXPECT_EQ(HexEncode(out), "530f8afbc74536b9a963b4f1c4cb738b");  // test case 13: tag only
  out.assign(32, '\0');
  ASSERT_TRUE(Aes256GcmSeal(key, nonce, "", std::string(16, '\0'), out.data()));
  EXPECT_EQ(HexEncode(out), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  std::string plain(16, 'x');
  auto opened = Aes256GcmOpen(key, nonce, "", out, plain.data());
  ASSERT_TRUE(opened);
  EXPECT_TRUE(*opened);
  EXPECT_EQ(plain, std::string(16, '\0'));
}

// Seals with our code and opens with EVP, and the other way round.
TEST(Aes256Gcm, InteroperatesWithEvp) {
  std::mt19937 rng(13);
  for (size_t n : {0, 1, 15, 16, 17, 100, 4096, 70000}) {
    const std::string key = RandomBytes(rng, 32);
    const std::string nonce = RandomBytes(rng, 12);
    const std::string aad = RandomBytes(rng, n % 40);
    const std::string plain = RandomBytes(rng, n);
    std::string sealed(n + 16, '\0');
    ASSERT_TRUE(Aes256GcmSeal(key, nonce, aad, plain, sealed.data()));

    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
    int len = 0;
    std::string evp_plain(n + 16, '\0');
    ASSERT_EQ(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, u(key), u(nonce)), 1);
    ASSERT_EQ(EVP_DecryptUpdate(c, nullptr, &len, u(aad), int(aad.size())), 1);
    ASSERT_EQ(EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(evp_plain.data()), &len, u(sealed), int(n)), 1);
    std::string tag = sealed.substr(n);
    ASSERT_EQ(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag.data()), 1);
    int fin = 0;
    EXPECT_EQ(EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(evp_plain.data()) + n, &fin), 1) << n;
    EXPECT_EQ(evp_plain.substr(0, n), plain);

    std::string evp_sealed(n + 16, '\0');
    ASSERT_EQ(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, u(key), u(nonce)), 1);
    ASSERT_EQ(EVP_EncryptUpdate(c, nullptr, &len, u(aad), int(aad.size())), 1);
    ASSERT_EQ(EVP_EncryptUpdate(c, reinterpret_cast<unsigned char*>(evp_sealed.data()), &len, u(plain), int(n)), 1);
    ASSERT_EQ(EVP_EncryptFinal_ex(c, reinterpret_cast<unsigned char*>(evp_sealed.data()) + n, &fin), 1);
    ASSERT_EQ(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, evp_sealed.data() + n), 1);
    EVP_CIPHER_CTX_free(c);
    EXPECT_EQ(evp_sealed, sealed) << n;

    std::string ours(n + 1, '\0');
    auto opened = Aes256GcmOpen(key, nonce, aad, evp_sealed, ours.data());
    ASSERT_TRUE(opened);
    EXPECT_TRUE(*opened);
    EXPECT_EQ(ours.substr(0, n), plain);
  }
}

TEST(Aes256Gcm, AnyChangeFailsAuthenticationAndWipesTheOutput) {
  std::mt19937 rng(17);
  const std::string key = RandomBytes(rng, 32);
  const std::string nonce = RandomBytes(rng, 12);
  const std::string aad = "jitsec-store-v1 name";
  const std::string plain = "CANARY-plaintext-that-must-not-survive";
  std::string sealed(plain.size() + 16, '\0');
  ASSERT_TRUE(Aes256GcmSeal(key, nonce, aad, plain, sealed.data()));
  auto fails = [&](const std::string& k, const std::string& iv, const std::string& a, const std::string& s) {
    std::string out(s.size() - 16, '\0');
    auto r = Aes256GcmOpen(k, iv, a, s, out.data());
    EXPECT_TRUE(r);
    EXPECT_EQ(out, std::string(out.size(), '\0')) << "plaintext left behind";
    return r && !*r;
  };
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string t = sealed;
    t[i] ^= 0x01;
    EXPECT_TRUE(fails(key, nonce, aad, t)) << "byte " << i;
  }
  std::string k2 = key;
  k2[0] ^= 0x80;
  EXPECT_TRUE(fails(k2, nonce, aad, sealed));
  std::string n2 = nonce;
  n2[11] ^= 0x01;
  EXPECT_TRUE(fails(key, n2, aad, sealed));
  EXPECT_TRUE(fails(key, nonce, aad + "x", sealed));
  EXPECT_TRUE(fails(key, nonce, "", sealed));
}

TEST(Aes256Gcm, RejectsBadSizes) {
  std::string out(64, '\0');
  EXPECT_EQ(Aes256GcmSeal(std::string(16, 'k'), std::string(12, 'n'), "", "x", out.data()).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Aes256GcmSeal(std::string(32, 'k'), std::string(16, 'n'), "", "x", out.data()).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Aes256GcmOpen(std::string(32, 'k'), std::string(12, 'n'), "", "short", out.data()).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
}

}  // namespace
}  // namespace jitsec::crypto

// CheckedTcpPair: a peer that sends a bad message header over a real TCP connection fails the
// receiving side's operations with an error naming the peer and the fault, and the process goes
// on. Without the checks, each of these ends the test binary (gloo's GLOO_ENFORCE on its loop
// thread, or a write outside the receive buffer) or waits out the timeout.
#include "collectives/checked_tcp_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "gloo/common/error.h"
#include "gloo/rendezvous/context.h"
#include "gloo/rendezvous/hash_store.h"
#include "gloo/transport/tcp/device.h"

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;
using Header = decltype(gloo::transport::tcp::Op::preamble);

constexpr auto kTimeout = std::chrono::seconds(10);

// Plays a misbehaving peer: rewrites the header of every message it sends that `corrupt`
// selects, on the way to a real socket. Only fields that do not change how many bytes gloo
// writes are touched, so the stream stays framed as the header says.
class CorruptingPair : public CheckedTcpPair {
 public:
  CorruptingPair(gloo::transport::tcp::Context* context, gloo::transport::tcp::Device* device,
                 int peer_rank, std::chrono::milliseconds timeout,
                 std::function<void(Header&)> corrupt)
      : CheckedTcpPair(context, device, peer_rank, timeout), corrupt_(std::move(corrupt)) {}

 protected:
  bool write(gloo::transport::tcp::Op& op) override {
    if (op.nwritten == 0) corrupt_(op.preamble);
    return CheckedTcpPair::write(op);
  }

 private:
  const std::function<void(Header&)> corrupt_;
};

TcpPairFactory Corrupting(std::function<void(Header&)> corrupt) {
  return [corrupt](gloo::transport::tcp::Context* context, gloo::transport::tcp::Device* device,
                   int peer_rank, std::chrono::milliseconds timeout) {
    return std::unique_ptr<CheckedTcpPair>(
        std::make_unique<CorruptingPair>(context, device, peer_rank, timeout, corrupt));
  };
}

// Two ranks connected over loopback: rank 0 on a checked device, rank 1 on `rank1_device`.
std::array<std::shared_ptr<gloo::rendezvous::Context>, 2> Connect(
    std::shared_ptr<gloo::transport::Device> rank1_device) {
  gloo::rendezvous::HashStore store;
  std::array<std::shared_ptr<gloo::transport::Device>, 2> devices = {
      CreateCheckedTcpDevice("127.0.0.1"), std::move(rank1_device)};
  std::array<std::shared_ptr<gloo::rendezvous::Context>, 2> contexts;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      contexts[rank] = std::make_shared<gloo::rendezvous::Context>(rank, 2);
      contexts[rank]->setTimeout(kTimeout);
      contexts[rank]->connectFullMesh(store, devices[rank]);
    });
  }
  for (auto& thread : threads) thread.join();
  return contexts;
}

// What rank 0's receive of `bytes` bytes on `slot` from rank 1 threw; empty if it completed.
std::string ReceiveError(gloo::Context& context, uint64_t slot, size_t bytes) {
  std::vector<char> data(bytes);
  auto buffer = context.createUnboundBuffer(data.data(), data.size());
  try {
    buffer->recv(1, slot);
    buffer->waitRecv();
  } catch (const gloo::IoException& e) {
    return e.what();
  }
  return "";
}

// Runs `peer` on its own thread, which may fail in any way once rank 0 has closed on it.
void RunPeer(std::thread& thread, std::function<void()> peer) {
  thread = std::thread([peer = std::move(peer)] {
    try {
      peer();
    } catch (const std::exception&) {
    }
  });
}

TEST(CheckedTcpTransportTest, MatchingMessagesGoThroughAndAPlainGlooPeerInterworks) {
  gloo::transport::tcp::attr attr;
  attr.hostname = "127.0.0.1";
  auto contexts = Connect(gloo::transport::tcp::CreateDevice(attr));
  std::vector<float> sent(1000);
  std::iota(sent.begin(), sent.end(), 1.0f);
  std::vector<float> received(1000, 0.0f);
  std::thread peer([&] {
    auto buffer = contexts[1]->createUnboundBuffer(sent.data(), sent.size() * sizeof(float));
    buffer->send(0, 5);
    buffer->waitSend();
  });
  auto buffer = contexts[0]->createUnboundBuffer(received.data(), received.size() * sizeof(float));
  buffer->recv(1, 5);
  EXPECT_TRUE(buffer->waitRecv());
  peer.join();
  EXPECT_EQ(received, sent);
}

TEST(CheckedTcpTransportTest, OversizedMessageFailsTheReceiveNamingPeerAndSizes) {
  auto contexts = Connect(CreateCheckedTcpDevice("127.0.0.1"));
  std::vector<char> oversized(4096);
  std::thread peer;
  RunPeer(peer, [&] {
    auto buffer = contexts[1]->createUnboundBuffer(oversized.data(), oversized.size());
    buffer->send(0, 7);
    buffer->waitSend();
  });
  const std::string error = ReceiveError(*contexts[0], 7, 1024);
  peer.join();
  EXPECT_THAT(error, HasSubstr("malformed message from rank 1"));
  EXPECT_THAT(error, HasSubstr("4096 bytes for a receive of 1024 bytes (slot 7)"));
}

TEST(CheckedTcpTransportTest, UnknownMessageTypeFailsTheReceive) {
  using gloo::transport::tcp::Op;
  auto contexts = Connect(CreateCheckedTcpDevice("127.0.0.1", Corrupting([](Header& header) {
                                                   if (header.opcode == Op::NOTIFY_RECV_READY)
                                                     header.opcode = 9;
                                                 })));
  std::vector<char> data(64);
  std::thread peer;
  // The peer posts a receive, so it tells rank 0 "ready to receive", in a header of type 9.
  RunPeer(peer, [&] {
    auto buffer = contexts[1]->createUnboundBuffer(data.data(), data.size());
    buffer->recv(0, 8);
    buffer->waitRecv();
  });
  const std::string error = ReceiveError(*contexts[0], 7, 64);
  peer.join();
  EXPECT_THAT(error, HasSubstr("malformed message from rank 1"));
  EXPECT_THAT(error, HasSubstr("a message of unknown type 9"));
}

// Old-style gloo buffers (gloo's ring and bcube algorithms use them) are written at an offset
// the sender chooses.
std::string BufferReceiveError(size_t bad_offset) {
  using gloo::transport::tcp::Op;
  auto contexts =
      Connect(CreateCheckedTcpDevice("127.0.0.1", Corrupting([bad_offset](Header& header) {
                                       if (header.opcode == Op::SEND_BUFFER)
                                         header.roffset = bad_offset;
                                     })));
  std::array<char, 64> received{};
  std::array<char, 64> sent{};
  auto receive = contexts[0]->getPair(1)->createRecvBuffer(3, received.data(), received.size());
  std::thread peer;
  RunPeer(peer, [&] {
    auto send = contexts[1]->getPair(0)->createSendBuffer(3, sent.data(), sent.size());
    send->send(0, sent.size());
    send->waitSend();
  });
  std::string error;
  try {
    receive->waitRecv();
  } catch (const gloo::IoException& e) {
    error = e.what();
  }
  peer.join();
  return error;
}

TEST(CheckedTcpTransportTest, BufferWriteThatWrapsAroundIsRefused) {
  // Offset + length wraps to 56, inside the buffer: gloo's own bound check passes it.
  const std::string error = BufferReceiveError(SIZE_MAX - 7);
  EXPECT_THAT(error, HasSubstr("malformed message from rank 1"));
  EXPECT_THAT(error, HasSubstr("which runs past the end of memory"));
}

TEST(CheckedTcpTransportTest, BufferWritePastItsEndIsRefused) {
  const std::string error = BufferReceiveError(32);
  EXPECT_THAT(error, HasSubstr("malformed message from rank 1"));
  EXPECT_THAT(error, HasSubstr("64 bytes at offset 32 for a buffer of 64 bytes (slot 3)"));
}

}  // namespace
}  // namespace cosched::collectives

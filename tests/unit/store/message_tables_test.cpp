// The message tables through store::MessageRecords: messages and their changes, status
// trails, webhook jobs, contacts, settings, templates, and the purge.
#include <gtest/gtest.h>

#include <memory>

#include "store/store.h"
#include "store_fixture.h"

namespace herald::store {
namespace {

class MessageTables : public testing::StoreTest {};
HERALD_STORE_CONFORMANCE(MessageTables);

MessageRecord message(std::uint64_t seq, std::string idem = "", std::int64_t due_ms = 100) {
  MessageRecord m;
  m.seq = seq;
  m.id = "msg_" + std::to_string(seq);
  m.app_id = "app";
  m.user_index = "u1";
  m.idem_index = std::move(idem);
  m.template_name = "welcome";
  m.created_ms = 10 * static_cast<std::int64_t>(seq);
  m.expires_ms = 1'000'000;
  m.state = MessageState::pending;
  m.due_ms = due_ms;
  m.sealed = "sealed-" + std::to_string(seq);
  return m;
}

Status insert(MessageRecords& r, MessageRecord m) {
  return wait_for([&](Completion d) { r.insert_message(std::move(m), std::move(d)); });
}

TEST_P(MessageTables, MessagesAreInsertedAndReadEveryWay) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  EXPECT_EQ(msgs.max_message_seq().value(), 0u);
  ASSERT_TRUE(insert(msgs, message(1, "idem-a", 300)).ok());
  ASSERT_TRUE(insert(msgs, message(2, "", 100)).ok());
  ASSERT_TRUE(insert(msgs, message(3, "", 200)).ok());
  // The idempotency index is unique per app; an empty one is NULL and never collides.
  auto dup = insert(msgs, message(4, "idem-a"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::kDuplicate);

  t.reopen();
  MessageRecords& r = t.db->messages();
  EXPECT_EQ(r.max_message_seq().value(), 3u);
  auto one = r.message(1).value();
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->id, "msg_1");
  EXPECT_EQ(one->idem_index, "idem-a");
  EXPECT_EQ(one->template_name, "welcome");
  EXPECT_EQ(one->sealed, "sealed-1");
  EXPECT_EQ(one->state, MessageState::pending);
  EXPECT_FALSE(r.message(9).value().has_value());
  EXPECT_EQ(r.message_by_idempotency("app", "idem-a").value()->seq, 1u);
  EXPECT_FALSE(r.message_by_idempotency("other", "idem-a").value().has_value());

  auto page = r.messages_by_seq({3, 9, 1});  // those that exist, in the order asked
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 3u);
  EXPECT_EQ((*page)[1].seq, 1u);
  EXPECT_EQ(r.pending_messages()->size(), 3u);
  auto due = r.due_messages(250, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].seq, 2u);  // earliest first
  EXPECT_EQ(r.due_messages(1000, 1)->size(), 1u);
  auto caps = r.message_cap_counts(20);
  ASSERT_EQ(caps->size(), 1u);
  EXPECT_EQ(caps->front().count, 2u);  // messages 2 and 3
}

TEST_P(MessageTables, AChangeAppliesOnlyToAPendingMessageWithItsEventsAndJob) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  ASSERT_TRUE(insert(msgs, message(1)).ok());
  MessageChange ack;
  ack.seq = 1;
  ack.state = MessageState::acked;
  ack.events.push_back(MessageEventRecord{1, 50, "acked", "", "", -1});
  auto applied = std::make_shared<bool>(false);
  ASSERT_TRUE(wait_for([&](Completion d) { msgs.change_message(ack, applied, std::move(d)); }).ok());
  EXPECT_TRUE(*applied);

  // A fallback step after the ack: refused, and its event and job are not written.
  MessageChange step;
  step.seq = 1;
  step.step = 1;
  step.due_ms = 999;
  step.events.push_back(MessageEventRecord{1, 60, "fallback_started", "webhook", "", -1});
  step.job = WebhookJobRecord{1, "app", 0, 70, WebhookJobState::pending, "", 60};
  ASSERT_TRUE(wait_for([&](Completion d) { msgs.change_message(step, applied, std::move(d)); }).ok());
  EXPECT_FALSE(*applied);

  auto m = msgs.message(1).value();
  EXPECT_EQ(m->state, MessageState::acked);
  EXPECT_EQ(m->step, 0);  // untouched fields keep their values
  EXPECT_EQ(m->due_ms, 100);
  auto events = msgs.message_events(1, 10).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "acked");
  EXPECT_EQ(events[0].connections, -1);
  EXPECT_FALSE(msgs.webhook_job(1).value().has_value());
}

TEST_P(MessageTables, WebhookJobsAreUpsertedAndListedByState) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  for (std::uint64_t seq : {1u, 2u, 3u}) ASSERT_TRUE(insert(msgs, message(seq)).ok());
  auto put = [&](WebhookJobRecord j) {
    return wait_for([&](Completion d) {
      msgs.put_webhook_job(j, {MessageEventRecord{j.seq, j.updated_ms, "webhook", "webhook", j.last_error, -1}},
                           std::move(d));
    });
  };
  ASSERT_TRUE(put(WebhookJobRecord{1, "app", 0, 100, WebhookJobState::pending, "", 10}).ok());
  ASSERT_TRUE(put(WebhookJobRecord{2, "app", 0, 50, WebhookJobState::pending, "", 10}).ok());
  ASSERT_TRUE(put(WebhookJobRecord{3, "app", 8, 0, WebhookJobState::dead, "http 500", 30}).ok());
  ASSERT_TRUE(put(WebhookJobRecord{1, "app", 1, 400, WebhookJobState::pending, "timeout", 20}).ok());

  auto job = msgs.webhook_job(1).value();
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->due_ms, 400);
  EXPECT_EQ(job->last_error, "timeout");
  auto due = msgs.due_webhook_jobs(200, 10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].seq, 2u);
  auto dead = msgs.dead_webhook_jobs("app", 10).value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].state, WebhookJobState::dead);
  EXPECT_TRUE(msgs.dead_webhook_jobs("other", 10).value().empty());
  EXPECT_EQ(msgs.message_events(1, 10).value().size(), 2u);
  EXPECT_EQ(msgs.message_events(1, 1).value().size(), 1u);
}

TEST_P(MessageTables, PurgeRemovesFinishedMessagesWithTheirTrailsAndJobs) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  ASSERT_TRUE(insert(msgs, message(1, "", 100)).ok());
  ASSERT_TRUE(insert(msgs, message(2, "", 100)).ok());  // stays pending
  MessageChange done;
  done.seq = 1;
  done.state = MessageState::expired;
  done.events.push_back(MessageEventRecord{1, 5, "expired", "", "", -1});
  done.job = WebhookJobRecord{1, "app", 0, 0, WebhookJobState::cancelled, "", 5};
  ASSERT_TRUE(wait_for([&](Completion d) { msgs.change_message(done, nullptr, std::move(d)); }).ok());

  ASSERT_TRUE(wait_for([&](Completion d) { msgs.purge_messages(50, 10, std::move(d)); }).ok());
  EXPECT_TRUE(msgs.message(1).value().has_value());  // its purge time (due_ms) is not reached
  ASSERT_TRUE(wait_for([&](Completion d) { msgs.purge_messages(101, 10, std::move(d)); }).ok());
  EXPECT_FALSE(msgs.message(1).value().has_value());
  EXPECT_TRUE(msgs.message_events(1, 10).value().empty());
  EXPECT_FALSE(msgs.webhook_job(1).value().has_value());
  EXPECT_TRUE(msgs.message(2).value().has_value());  // pending messages are never purged
}

TEST_P(MessageTables, ContactsSettingsAndTemplates) {
  testing::TempStore t(GetParam());
  MessageRecords& msgs = t.db->messages();
  ASSERT_TRUE(wait_for([&](Completion d) {
                msgs.put_contacts(ContactRecord{"app", "u1", "c1", 1}, std::move(d));
              }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) {
                msgs.put_contacts(ContactRecord{"app", "u1", "c2", 2}, std::move(d));
              }).ok());
  auto c = msgs.contacts("app", "u1").value();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->sealed, "c2");
  EXPECT_EQ(c->updated_ms, 2);
  ASSERT_TRUE(wait_for([&](Completion d) { msgs.delete_contacts("app", "u1", std::move(d)); }).ok());
  EXPECT_FALSE(msgs.contacts("app", "u1").value().has_value());

  for (const char* v : {"s1", "s2"})
    ASSERT_TRUE(wait_for([&](Completion d) {
                  msgs.put_message_settings(MessageSettingsRecord{"app", v}, std::move(d));
                }).ok());
  auto settings = msgs.load_message_settings().value();
  ASSERT_EQ(settings.size(), 1u);
  EXPECT_EQ(settings[0].sealed, "s2");

  for (const char* name : {"a", "b"})
    ASSERT_TRUE(wait_for([&](Completion d) {
                  msgs.put_message_template(MessageTemplateRecord{"app", name, R"({"title":"x"})"}, std::move(d));
                }).ok());
  ASSERT_TRUE(wait_for([&](Completion d) { msgs.delete_message_template("app", "a", std::move(d)); }).ok());
  auto templates = msgs.load_message_templates().value();
  ASSERT_EQ(templates.size(), 1u);
  EXPECT_EQ(templates[0].name, "b");
  EXPECT_EQ(templates[0].body, R"({"title":"x"})");
}

}  // namespace
}  // namespace herald::store
